//! Rollback: undo what a journal records. For each journalled change, the fields idguard wrote
//! are restored to their journalled before-values, but only where the live value still equals
//! what idguard wrote; a field changed by someone else since is left alone and reported
//! `changed-since`. Rollback restores exactly (looser values and null allowlists included):
//! the "only tightens" rule is remediation's, not rollback's, so every restore that loosens a
//! config is named ([`loosening`]) before anything is written. It journals and verifies like
//! an apply, stops at the first journal write that fails or at Ctrl-C (as an apply does), and
//! reads journals cut short by a crash.

use std::sync::Mutex;

use futures::{StreamExt, stream};
use serde_json::{Map, Value};

use super::apply::{ChangeOutcome, NOT_SENT, SharedJournal, Writing, now, verify};
use super::journal::{Entry, Journal, JournalError, JournalWriter, Outcome};
use super::{field_diff, patch_body, plan};
use crate::evaluate::allowlist_field_entries;
use crate::infisical::{Client, ErrorKind};
use crate::model::{AuthMethod, TrustedIp};

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

impl RollbackStep {
    /// The restores that loosen the config, each with why (field, description).
    pub fn loosening(&self) -> Vec<(String, String)> {
        self.restore
            .iter()
            .filter_map(|(field, to)| {
                let from = self.item.written.get(field).unwrap_or(&Value::Null);
                loosening(field, from, to).map(|why| (field.clone(), why))
            })
            .collect()
    }
}

/// What a rollback (or its dry run) found and did.
#[derive(Debug, Default)]
pub struct RollbackRun {
    /// One per journalled change that was looked at.
    pub steps: Vec<(RollbackStep, ChangeOutcome)>,
    /// Changes never attempted (or whose PATCH was never sent) because the rollback's own
    /// journal could not be written or Ctrl-C was pressed.
    pub not_attempted: usize,
    /// The first journal write that failed; it stopped the rollback.
    pub journal_error: Option<JournalError>,
}

/// Why restoring `field` from `from` (what idguard wrote) to `to` (the before-value) loosens
/// the config, or `None` when it does not. Zeros mean "unlimited" for the token fields; an
/// empty or null allowlist means "anyone".
pub fn loosening(field: &str, from: &Value, to: &Value) -> Option<String> {
    match field {
        "accessTokenTTL" | "accessTokenMaxTTL" | "accessTokenNumUsesLimit" => {
            match (from.as_u64()?, to.as_u64()?) {
                (f, 0) if f != 0 => Some("back to unlimited".into()),
                (f, t) if f != 0 && t > f => Some(format!(
                    "raised from {} to {}",
                    field_diff::show(field, from),
                    field_diff::show(field, to)
                )),
                _ => None,
            }
        }
        "accessTokenPeriod" => (to.as_u64()? > from.as_u64()?).then(|| {
            if from.as_u64() == Some(0) {
                "tokens become periodic again (renewable forever)".into()
            } else {
                format!(
                    "period raised from {} to {}",
                    field_diff::show(field, from),
                    field_diff::show(field, to)
                )
            }
        }),
        "accessTokenTrustedIps" | "clientSecretTrustedIps" => {
            let nets = |v: &Value| -> Vec<ipnet::IpNet> {
                v.as_array()
                    .map(|items| {
                        items
                            .iter()
                            .filter_map(|i| TrustedIp::from_json(i).ok())
                            .flat_map(|ip| ip.admitted())
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let (from, to) = (nets(from), nets(to));
            let mut wider: Vec<String> = Vec::new();
            for t in to.iter().filter(|t| !from.iter().any(|f| f.contains(*t))) {
                let t = t.to_string();
                if !wider.contains(&t) {
                    wider.push(t);
                }
            }
            (!wider.is_empty()).then(|| format!("admits {} again", wider.join(", ")))
        }
        _ => {
            let entries = |v: &Value| allowlist_field_entries(field, Some(v));
            let (from, to) = (entries(from), entries(to));
            match (from.unwrap_or_default(), to.unwrap_or_default()) {
                (f, t) if !f.is_empty() && t.is_empty() => {
                    Some("empty again: anyone may log in".into())
                }
                (f, t) => {
                    let extra: Vec<&String> = t.iter().filter(|e| !f.contains(e)).collect();
                    (!extra.is_empty()).then(|| {
                        format!(
                            "admits {} again",
                            extra
                                .iter()
                                .map(|e| e.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    })
                }
            }
        }
    }
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

/// Reads each config and works out what to restore; with a journal, journals, writes and
/// verifies. Configs are handled one at a time per (identity, method) in journal order, up to
/// `writing.concurrency` configs at once.
pub async fn rollback(
    client: &Client,
    items: &[RollbackItem],
    journal: Option<&Mutex<JournalWriter>>,
    writing: &Writing,
) -> RollbackRun {
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
    let owned = journal.map(SharedJournal::new);
    let shared = owned.as_ref();
    let results: Vec<Vec<Option<(RollbackStep, ChangeOutcome)>>> = stream::iter(groups)
        .map(|group| async move {
            let mut out = Vec::new();
            for item in group {
                let step = rollback_one(client, item, shared, writing).await;
                if let Some((_, o)) = &step {
                    writing.count(o.outcome);
                }
                out.push(step);
            }
            out
        })
        .buffer_unordered(writing.concurrency.max(1))
        .collect()
        .await;
    let mut run = RollbackRun::default();
    for step in results.into_iter().flatten() {
        match step {
            Some(step) => run.steps.push(step),
            None => run.not_attempted += 1,
        }
    }
    run.journal_error = owned.and_then(SharedJournal::into_error);
    run
}

/// One config; `None` when it was not attempted or its PATCH not sent (the journal had
/// failed, or Ctrl-C).
async fn rollback_one(
    client: &Client,
    item: &RollbackItem,
    journal: Option<&SharedJournal<'_>>,
    writing: &Writing,
) -> Option<(RollbackStep, ChangeOutcome)> {
    if writing.must_stop(journal) {
        return None;
    }
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
    let record = |o: Outcome, after: Option<Map<String, Value>>, error: Option<String>| {
        if let Some(j) = journal {
            j.record(&Entry::Outcome {
                change_id: item.change_id.clone(),
                identity_id: item.identity_id.clone(),
                auth_method: item.auth_method.clone(),
                at: now(),
                outcome: o,
                after,
                error,
            });
        }
    };

    let live = match client.get_config(&item.identity_id, &method).await {
        Ok(live) => live,
        Err(e) => {
            let msg = format!("read failed, nothing written: {e}");
            record(Outcome::Failed, None, Some(msg.clone()));
            let o = outcome(&step, Outcome::Failed, Some(msg));
            return Some((step, o));
        }
    };
    let mut at_before = 0;
    for (field, wrote) in &item.written {
        let current = plan::request_value(&live, field);
        let before = item.before.get(field).cloned().unwrap_or(Value::Null);
        // A field already at its before-value needs nothing, even when idguard wrote that
        // same value (a TTL resent unchanged beside its partner): a change whose PATCH was
        // never sent (Ctrl-C, a crash) is then left alone rather than written again.
        if plan::same_value(field, &current, &before) {
            at_before += 1;
        } else if plan::same_value(field, &current, wrote) {
            step.restore.insert(field.clone(), before);
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
        record(o, None, msg.clone());
        let o = outcome(&step, o, msg);
        return Some((step, o));
    }
    let Some(journal) = journal else {
        // Plan only.
        let o = outcome(&step, Outcome::Unchanged, None);
        return Some((step, o));
    };

    if writing.must_stop(Some(journal)) {
        return None;
    }
    let written = journal.record(&Entry::Before {
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
    });
    if !written || journal.stopped() {
        return None;
    }
    let body = patch_body::build(&live, &step.restore);
    let sent = client
        .patch_config_unless(&item.identity_id, &method, &body, Some(&writing.interrupt))
        .await;
    if let Err(e) = sent {
        if e.kind() == ErrorKind::Stopped {
            record(Outcome::Failed, None, Some(NOT_SENT.to_owned()));
            return None;
        }
        let msg = e.to_string();
        record(Outcome::Failed, None, Some(msg.clone()));
        let o = outcome(&step, Outcome::Failed, Some(msg));
        return Some((step, o));
    }
    let after = match client.get_config(&item.identity_id, &method).await {
        Ok(after) => after,
        Err(e) => {
            let msg = format!("written, but the read-back failed: {e}");
            record(Outcome::Unverified, None, Some(msg.clone()));
            let o = outcome(&step, Outcome::Unverified, Some(msg));
            return Some((step, o));
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
    record(o, Some(observed), msg.clone());
    let o = outcome(&step, o, msg);
    Some((step, o))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn loosening_restores_are_named() {
        assert!(loosening("accessTokenTTL", &json!(3600), &json!(0)).is_some());
        assert!(loosening("accessTokenTTL", &json!(3600), &json!(7200)).is_some());
        assert!(loosening("accessTokenTTL", &json!(3600), &json!(60)).is_none());
        assert!(loosening("accessTokenPeriod", &json!(0), &json!(60)).is_some());
        assert!(loosening("accessTokenPeriod", &json!(60), &json!(0)).is_none());
        let narrow = json!([{"ipAddress": "10.0.0.0/8"}]);
        let wide = json!([{"ipAddress": "0.0.0.0/0"}, {"ipAddress": "::/0"}]);
        let why = loosening("accessTokenTrustedIps", &narrow, &wide).unwrap_or_default();
        assert!(why.contains("0.0.0.0/0") && why.contains("::/0"), "{why}");
        assert!(loosening("accessTokenTrustedIps", &wide, &narrow).is_none());
        assert!(loosening("allowedUsernames", &json!("svc-a"), &Value::Null).is_some());
        let why = loosening("allowedUsernames", &json!("svc-a"), &json!("svc-a, root"));
        assert_eq!(why.as_deref(), Some("admits root again"));
        assert!(loosening("allowedUsernames", &json!("svc-a, root"), &json!("svc-a")).is_none());
    }
}
