//! Rollback: undo what a journal records. For each journalled change, the fields idguard wrote
//! are restored to their journalled before-values, but only where the live value still equals
//! what idguard wrote; a field changed by someone else since is left alone and reported
//! `changed-since`. Rollback restores exactly (looser values and null allowlists included):
//! the "only tightens" rule is remediation's, not rollback's. It journals and verifies like an
//! apply, and reads journals cut short by a crash.

use std::sync::Mutex;

use futures::{StreamExt, stream};
use serde_json::{Map, Value};

use super::apply::{ChangeOutcome, now, verify, write};
use super::journal::{Entry, Journal, JournalError, JournalWriter, Outcome};
use super::{patch_body, plan};
use crate::infisical::Client;
use crate::model::AuthMethod;

/// One config to restore, from a journal's `before` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct RollbackItem {
    pub change_id: String,
    pub identity_id: String,
    pub identity_name: String,
    pub auth_method: String,
    /// Field → value before idguard's write.
    pub before: Map<String, Value>,
    /// Field → value idguard wrote.
    pub written: Map<String, Value>,
}

/// What rollback would do (or did) to one config.
#[derive(Debug, Clone, PartialEq)]
pub struct RollbackStep {
    pub item: RollbackItem,
    /// Fields to restore (live still equals what idguard wrote), with their before-values.
    pub restore: Map<String, Value>,
    /// Fields someone changed since idguard wrote them.
    pub changed_since: Vec<String>,
}

/// Every change the journal shows idguard attempted (a `before` entry), last write first so
/// that a config changed twice is restored to its earliest state.
pub fn items(journal: &Journal) -> Vec<RollbackItem> {
    let mut items: Vec<RollbackItem> = journal
        .entries
        .iter()
        .filter_map(|e| match e {
            Entry::Before {
                change_id,
                identity_id,
                identity_name,
                auth_method,
                before,
                written,
                ..
            } => Some(RollbackItem {
                change_id: change_id.clone(),
                identity_id: identity_id.clone(),
                identity_name: identity_name.clone(),
                auth_method: auth_method.clone(),
                before: before.clone(),
                written: written.clone(),
            }),
            _ => None,
        })
        .collect();
    items.reverse();
    items
}

/// Reads each config and works out what to restore; with `apply`, journals, writes and
/// verifies. Configs are handled one at a time per (identity, method) in journal order.
pub async fn rollback(
    client: &Client,
    items: &[RollbackItem],
    journal: Option<&Mutex<JournalWriter>>,
    concurrency: usize,
) -> Result<Vec<(RollbackStep, ChangeOutcome)>, JournalError> {
    // A config that appears twice must be handled in order: group by config.
    let mut groups: Vec<Vec<&RollbackItem>> = Vec::new();
    for item in items {
        match groups
            .iter_mut()
            .find(|g| g[0].identity_id == item.identity_id && g[0].auth_method == item.auth_method)
        {
            Some(g) => g.push(item),
            None => groups.push(vec![item]),
        }
    }
    let results: Vec<Result<Vec<(RollbackStep, ChangeOutcome)>, JournalError>> =
        stream::iter(groups)
            .map(|group| async move {
                let mut out = Vec::new();
                for item in group {
                    out.push(rollback_one(client, item, journal).await?);
                }
                Ok(out)
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
    let mut all = Vec::new();
    for r in results {
        all.extend(r?);
    }
    Ok(all)
}

async fn rollback_one(
    client: &Client,
    item: &RollbackItem,
    journal: Option<&Mutex<JournalWriter>>,
) -> Result<(RollbackStep, ChangeOutcome), JournalError> {
    let method = AuthMethod::parse(&item.auth_method);
    let mut step = RollbackStep {
        item: item.clone(),
        restore: Map::new(),
        changed_since: Vec::new(),
    };
    let outcome = |step: &RollbackStep, outcome: Outcome, error: Option<String>| ChangeOutcome {
        change_id: step.item.change_id.clone(),
        identity_id: step.item.identity_id.clone(),
        identity_name: step.item.identity_name.clone(),
        auth_method: step.item.auth_method.clone(),
        outcome,
        error,
        rules: Vec::new(),
    };
    let record =
        |o: Outcome, after: Option<Map<String, Value>>, error: Option<String>| match journal {
            Some(j) => write(
                j,
                &Entry::Outcome {
                    change_id: item.change_id.clone(),
                    identity_id: item.identity_id.clone(),
                    auth_method: item.auth_method.clone(),
                    at: now(),
                    outcome: o,
                    after,
                    error,
                },
            ),
            None => Ok(()),
        };

    let live = match client.get_config(&item.identity_id, &method).await {
        Ok(live) => live,
        Err(e) => {
            let msg = format!("read failed, nothing written: {e}");
            record(Outcome::Failed, None, Some(msg.clone()))?;
            let o = outcome(&step, Outcome::Failed, Some(msg));
            return Ok((step, o));
        }
    };
    let mut at_before = 0;
    for (field, wrote) in &item.written {
        let current = plan::request_value(&live, field);
        let before = item.before.get(field).cloned().unwrap_or(Value::Null);
        if plan::same_value(field, &current, wrote) {
            step.restore.insert(field.clone(), before);
        } else if plan::same_value(field, &current, &before) {
            at_before += 1;
        } else {
            step.changed_since.push(field.clone());
        }
    }
    if step.restore.is_empty() {
        let (o, msg) = if step.changed_since.is_empty() && at_before > 0 {
            (Outcome::Unchanged, None)
        } else {
            (
                Outcome::ChangedSince,
                Some(format!(
                    "changed since idguard wrote them: {}",
                    step.changed_since.join(", ")
                )),
            )
        };
        record(o, None, msg.clone())?;
        let o = outcome(&step, o, msg);
        return Ok((step, o));
    }
    let Some(journal) = journal else {
        // Plan only.
        let o = outcome(&step, Outcome::Unchanged, None);
        return Ok((step, o));
    };

    write(
        journal,
        &Entry::Before {
            change_id: item.change_id.clone(),
            identity_id: item.identity_id.clone(),
            identity_name: item.identity_name.clone(),
            auth_method: item.auth_method.clone(),
            at: now(),
            before: step
                .restore
                .keys()
                .map(|k| (k.clone(), plan::request_value(&live, k)))
                .collect(),
            written: step.restore.clone(),
        },
    )?;
    let body = patch_body::build(&live, &step.restore);
    if let Err(e) = client.patch_config(&item.identity_id, &method, &body).await {
        let msg = e.to_string();
        record(Outcome::Failed, None, Some(msg.clone()))?;
        let o = outcome(&step, Outcome::Failed, Some(msg));
        return Ok((step, o));
    }
    let after = match client.get_config(&item.identity_id, &method).await {
        Ok(after) => after,
        Err(e) => {
            let msg = format!("written, but the read-back failed: {e}");
            record(Outcome::Unverified, None, Some(msg.clone()))?;
            let o = outcome(&step, Outcome::Unverified, Some(msg));
            return Ok((step, o));
        }
    };
    // The TTL partner may have been resent unchanged; it is part of the intended state.
    let mut intended = step.restore.clone();
    for k in ["accessTokenTTL", "accessTokenMaxTTL"] {
        if let (false, Some(v)) = (intended.contains_key(k), body.get(k)) {
            intended.insert(k.to_owned(), v.clone());
        }
    }
    let problems = verify(&live, &after, &intended);
    let observed: Map<String, Value> = step
        .restore
        .keys()
        .map(|k| (k.clone(), plan::request_value(&after, k)))
        .collect();
    let (o, msg) = if problems.is_empty() {
        (Outcome::Verified, None)
    } else {
        (Outcome::Unverified, Some(problems.join("; ")))
    };
    record(o, Some(observed), msg.clone())?;
    let o = outcome(&step, o, msg);
    Ok((step, o))
}
