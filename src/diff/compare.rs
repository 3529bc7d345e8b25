//! The comparison itself: the OLD report is indexed compactly (finding id → status, with
//! identity, method, rule and severity interned), then the NEW results stream past one at a
//! time and each is classified against its OLD counterpart. What is left of the index at the
//! end was in OLD only. Only changes (and the still-failing list) are kept for output.

use std::collections::HashMap;

use super::read::ResultRecord;
use super::{Change, Diff, IdentityRef, RunRef, State};

/// Strings seen many times (identity ids, methods, rules, severities), stored once.
#[derive(Default)]
struct Interner {
    ids: HashMap<String, u32>,
    names: Vec<String>,
}

impl Interner {
    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.ids.get(s) {
            return i;
        }
        let i = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(s.to_owned());
        self.ids.insert(s.to_owned(), i);
        i
    }

    fn get(&self, i: u32) -> &str {
        self.names.get(i as usize).map_or("", String::as_str)
    }
}

/// One OLD result, compactly.
struct OldEntry {
    identity: u32,
    method: u32,
    rule: u32,
    severity: u32,
    status: State,
    /// The exemption's end day, for exempt results.
    exempt_until: Option<Box<str>>,
}

/// The OLD report, indexed by finding id.
#[derive(Default)]
pub(crate) struct OldIndex {
    strings: Interner,
    /// Identity id (interned) → name.
    identity_names: HashMap<u32, String>,
    entries: HashMap<String, OldEntry>,
}

impl OldIndex {
    /// Adds one OLD result (a repeated finding id keeps the last).
    pub(crate) fn insert(&mut self, r: ResultRecord) {
        let identity = self.strings.intern(&r.identity_id);
        self.identity_names
            .entry(identity)
            .or_insert_with(|| r.identity_name.clone());
        let entry = OldEntry {
            identity,
            method: self.strings.intern(&r.auth_method),
            rule: self.strings.intern(&r.rule),
            severity: self.strings.intern(&r.severity),
            status: r.status,
            exempt_until: match (r.status, r.exemption) {
                (State::Exempt, Some(e)) => Some(e.expires.into_boxed_str()),
                _ => None,
            },
        };
        self.entries.insert(r.finding_id, entry);
    }
}

/// Streams NEW results against the OLD index.
pub(crate) struct Comparison {
    old: OldIndex,
    /// NEW identities: id → name.
    new_identities: HashMap<String, String>,
    diff: Diff,
}

impl Comparison {
    /// Starts comparing against `old`.
    pub(crate) fn new(old: OldIndex) -> Comparison {
        Comparison {
            old,
            new_identities: HashMap::new(),
            diff: Diff::default(),
        }
    }

    /// Classifies one NEW result.
    pub(crate) fn observe(&mut self, r: ResultRecord) {
        if !self.new_identities.contains_key(&r.identity_id) {
            self.new_identities
                .insert(r.identity_id.clone(), r.identity_name.clone());
        }
        let before = self.old.entries.remove(&r.finding_id);
        let before_state = before.as_ref().map(|e| e.status);
        let target = match (before_state, r.status) {
            (None | Some(State::Error), State::Fail) => Some(&mut self.diff.new_failures),
            (Some(State::Pass), State::Fail) => Some(&mut self.diff.regressed),
            (Some(State::Exempt), State::Fail) => Some(&mut self.diff.exemptions_expired),
            (Some(State::Fail), State::Fail) => Some(&mut self.diff.still_failing),
            (Some(State::Fail), State::Pass) => Some(&mut self.diff.resolved),
            (Some(State::Fail), State::Exempt) => Some(&mut self.diff.newly_exempt),
            (b, State::Error) if b != Some(State::Error) => Some(&mut self.diff.new_errors),
            _ => None,
        };
        let Some(list) = target else { return };
        let detail = match r.status {
            State::Error => r.error.clone(),
            State::Fail => {
                let messages: Vec<&str> = r
                    .violations
                    .iter()
                    .map(|v| v.message.as_str())
                    .filter(|m| !m.is_empty())
                    .collect();
                (!messages.is_empty()).then(|| messages.join("; "))
            }
            State::Exempt => r
                .exemption
                .as_ref()
                .map(|e| format!("exempt until {}", e.expires)),
            State::Pass => None,
        };
        list.push(Change {
            finding_id: r.finding_id,
            identity_id: r.identity_id,
            identity_name: r.identity_name,
            auth_method: r.auth_method,
            rule: r.rule,
            severity: r.severity,
            before: before_state,
            after: Some(r.status),
            detail,
            exemption_expired: before.and_then(|e| e.exempt_until.map(String::from)),
        });
    }

    /// Ends the comparison: what is left of OLD was resolved (its identity is still there) or
    /// went with a removed identity.
    pub(crate) fn finish(self, old: RunRef, new: RunRef) -> Diff {
        let Comparison {
            old: index,
            new_identities,
            mut diff,
        } = self;
        let strings = &index.strings;
        for (finding_id, e) in index.entries {
            let identity_id = strings.get(e.identity);
            if e.status != State::Fail || !new_identities.contains_key(identity_id) {
                continue;
            }
            diff.resolved.push(Change {
                finding_id,
                identity_id: identity_id.to_owned(),
                identity_name: new_identities.get(identity_id).cloned().unwrap_or_default(),
                auth_method: strings.get(e.method).to_owned(),
                rule: strings.get(e.rule).to_owned(),
                severity: strings.get(e.severity).to_owned(),
                before: Some(State::Fail),
                after: None,
                detail: Some(
                    "no longer evaluated (auth method removed or rule out of scope)".into(),
                ),
                exemption_expired: None,
            });
        }
        for (id, name) in &index.identity_names {
            let id = strings.get(*id);
            if !new_identities.contains_key(id) {
                diff.identities_removed.push(IdentityRef {
                    id: id.to_owned(),
                    name: name.clone(),
                });
            }
        }
        let old_ids: std::collections::HashSet<&str> = index
            .identity_names
            .keys()
            .map(|i| strings.get(*i))
            .collect();
        for (id, name) in new_identities {
            if !old_ids.contains(id.as_str()) {
                diff.identities_added.push(IdentityRef { id, name });
            }
        }
        if !old.org_id.is_empty() && !new.org_id.is_empty() && old.org_id != new.org_id {
            diff.notes.push(format!(
                "the reports are of different organizations ({} and {}): finding ids cannot match",
                old.org_id, new.org_id
            ));
        }
        if !old.complete {
            diff.notes.push(
                "the OLD run is incomplete: some failures may show as new although they are not"
                    .into(),
            );
        }
        if !new.complete {
            diff.notes.push(
                "the NEW run is incomplete: resolved failures and removed identities may only \
                 not have been reached"
                    .into(),
            );
        }
        diff.old = old;
        diff.new = new;
        diff.sort_and_count();
        diff
    }
}
