//! Usage evidence read again when a plan is applied: a plan can be days old, and an address
//! that started using an identity since then must not be cut off. Every change that narrows
//! trusted IPs is checked against the evidence of the window that ends now; a change whose
//! narrowing would cut off an address in use is not written (the whole change: a plan is never
//! altered at apply time) and becomes a manual item saying why.

use crate::infisical::{ApiError, Client};
use crate::model::LastLogin;
use crate::remediate::plan::ManualItem;
use crate::remediate::self_guard::Split;

use super::availability::EvidenceSource;
use super::lockout::{self, Known};
use super::reader::{EvidenceReader, EvidenceSettings};

/// `split` with the changes whose narrowing the evidence now holds moved to `held`, and where
/// the evidence came from.
pub async fn hold_in_use(
    client: &Client,
    mut split: Split,
    now: jiff::Timestamp,
    settings: EvidenceSettings,
) -> Result<(Split, EvidenceSource), ApiError> {
    let narrowing = split
        .first
        .iter()
        .chain(&split.last)
        .any(|c| !lockout::narrowed(&c.after).is_empty());
    if !narrowing {
        return Ok((split, EvidenceSource::NotNeeded));
    }
    let reports_last_logins = reports_last_logins(client).await?;
    let reader = EvidenceReader::new(client.clone(), now, settings);
    for changes in [&mut split.first, &mut split.last] {
        let mut kept = Vec::with_capacity(changes.len());
        for change in std::mem::take(changes) {
            if lockout::narrowed(&change.after).is_empty() {
                kept.push(change);
                continue;
            }
            let known: Known = reader
                .known_by_id(&change.identity_id, reports_last_logins)
                .await;
            let holds = lockout::holds(&change.after, &known);
            if holds.is_empty() {
                kept.push(change);
                continue;
            }
            let reasons: Vec<&str> = holds.values().map(String::as_str).collect();
            let reason = format!(
                "{} (found when applying; make a new plan with `idguard remediate` to apply the \
                 rest of this change)",
                reasons.join("; ")
            );
            split
                .held
                .extend(change.rules_fixed.iter().map(|rule| ManualItem {
                    identity_id: change.identity_id.clone(),
                    identity_name: change.identity_name.clone(),
                    auth_method: change.auth_method.clone(),
                    rule: rule.clone(),
                    reason: reason.clone(),
                }));
        }
        *changes = kept;
    }
    Ok((split, reader.source()))
}

/// Whether the server's identity listing carries last logins (its first page tells).
async fn reports_last_logins(client: &Client) -> Result<bool, ApiError> {
    let mut pager = client.identities();
    let first = pager.next_page().await?.unwrap_or_default();
    Ok(first
        .first()
        .is_some_and(|i| i.usage.last_login != LastLogin::NotReported))
}
