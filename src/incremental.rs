//! Incremental audits: read only what changed since the last run.
//!
//! A run with `--incremental` keeps what it read as `snapshot.json` in its run folder. The next
//! one takes the newest such snapshot of the same organization as its base, reads the audit
//! log's change feed since the base was taken (less a margin: Infisical writes its events
//! asynchronously), lists the identities as usual, and reads again every config the feed
//! names (every config of an identity the feed names as a whole), every config the base lacks
//! (new identities, methods attached since) and every config whose read failed in the base;
//! the rest is carried over from the base. Evaluation always runs in full, at the
//! time of the run.
//!
//! It reads everything instead (and says why) when there is no usable base, when the base's
//! oldest config is older than `--max-base-age` (a periodic full sweep catches what bypasses the
//! audit log), or when the feed cannot be trusted or is too long (see [`feed`]).
//!
//! Submodules: `base` (finding the base snapshot) and `feed` (the change events).

pub mod base;
pub mod feed;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

use crate::infisical::Client;
use crate::model::{AuthConfig, AuthMethod, Identity};
use crate::snapshot::{Snapshot, StoredConfig};

/// How an incremental run chooses and follows its base (`--base`, `--max-base-age`,
/// `--max-changes-feed`, `--feed-margin`).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The folder whose run folders are searched for a base.
    pub reports: PathBuf,
    /// A run folder or snapshot file to use as the base instead.
    pub base: Option<PathBuf>,
    /// A base whose oldest config was read longer ago than this is not used.
    pub max_base_age: Duration,
    /// More change events than this make a full read.
    pub max_changes: ChangeCap,
    /// How far before the base's start the change feed is read.
    pub margin: Duration,
}

/// The most change events an incremental run follows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ChangeCap {
    Events(u64),
    /// A share of the base's configs, in percent.
    Percent(f64),
}

impl ChangeCap {
    /// The cap for a base of `configs` configs.
    pub fn events(self, configs: u64) -> u64 {
        match self {
            ChangeCap::Events(n) => n,
            // Rounded down: a cap is never more generous than asked.
            ChangeCap::Percent(p) => (configs as f64 * p / 100.0).floor() as u64,
        }
    }

    /// `500` or `20%`.
    pub fn parse(s: &str) -> Result<ChangeCap, String> {
        let s = s.trim();
        if let Some(p) = s.strip_suffix('%') {
            return match p.trim().parse::<f64>() {
                Ok(p) if (0.0..=100.0).contains(&p) => Ok(ChangeCap::Percent(p)),
                _ => Err(format!("`{s}` is not a percentage from 0% to 100%")),
            };
        }
        s.parse::<u64>()
            .map(ChangeCap::Events)
            .map_err(|_| format!("`{s}` is not a number of events nor a percentage (`20%`)"))
    }
}

/// What a run will read.
#[derive(Debug)]
pub enum Plan {
    /// Every config, for this reason.
    Full { reason: String },
    /// The changes since the base.
    Incremental(Arc<Delta>),
}

/// An incremental run's base and what changed since it; counts the configs read and reused.
#[derive(Debug)]
pub struct Delta {
    base: Arc<Snapshot>,
    base_path: PathBuf,
    changed: feed::Changes,
    reread: AtomicU64,
    reused: AtomicU64,
}

impl Delta {
    /// The base's config of `identity`'s `method`, decoded and as stored, when it can stand
    /// for a fresh read: the feed names no change to it nor to the identity, the base read it
    /// without error, and the method is one whose changes the feed records. `None`: read it
    /// again (a method attached since the base is not in it, so it is read too).
    pub fn reuse(
        &self,
        identity: &Identity,
        method: &AuthMethod,
    ) -> Option<(AuthConfig, StoredConfig)> {
        // A stored config that no longer decodes (it decoded when the base was read) is read
        // again rather than trusted.
        let reused = self
            .carried(identity, method)
            .and_then(|stored| Some((stored.decode(method).ok()?, stored)));
        let counter = if reused.is_some() {
            &self.reused
        } else {
            &self.reread
        };
        counter.fetch_add(1, Ordering::Relaxed);
        reused
    }

    /// The base's stored config of `identity`'s `method`, if the feed names no change to it.
    fn carried(&self, identity: &Identity, method: &AuthMethod) -> Option<StoredConfig> {
        let changed = &self.changed;
        let config_changed = changed
            .configs
            .get(&identity.id)
            .is_some_and(|methods| methods.contains(method));
        if !method.is_known() || changed.identities.contains(&identity.id) || config_changed {
            return None;
        }
        let entry = self.base.entry(&identity.id)?;
        let (_, read) = entry.configs.iter().find(|(m, _)| m == method)?;
        read.as_ref().ok().cloned()
    }

    /// The base snapshot.
    pub fn base(&self) -> &Snapshot {
        &self.base
    }

    /// Configs read from the server so far.
    pub fn reread(&self) -> u64 {
        self.reread.load(Ordering::Relaxed)
    }

    /// Configs carried over from the base so far.
    pub fn reused(&self) -> u64 {
        self.reused.load(Ordering::Relaxed)
    }
}

/// How a run read the organization, as report.json's `run` records it (`mode`,
/// `mode_reason`, `base_snapshot`, `reread_configs`, `reused_configs`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadMode {
    /// `full` or `incremental`.
    pub mode: &'static str,
    /// Why a run asked to be incremental read everything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode_reason: Option<String>,
    /// The base an incremental run carried configs over from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_snapshot: Option<BaseRef>,
    /// Change events followed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_events: Option<u64>,
    pub reread_configs: u64,
    pub reused_configs: u64,
    /// The snapshot this run wrote for the next one (runs with `--incremental`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wrote_snapshot: Option<String>,
}

/// The base snapshot of an incremental run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BaseRef {
    pub path: String,
    /// When the base's reading started.
    pub taken_at: String,
    /// When its oldest config was read (the last full read).
    pub full_read_at: String,
}

impl ReadMode {
    /// A full read of `configs` configs, with the reason when incremental was asked for.
    pub fn full(configs: u64, reason: Option<String>) -> ReadMode {
        ReadMode {
            mode: "full",
            mode_reason: reason,
            base_snapshot: None,
            change_events: None,
            reread_configs: configs,
            reused_configs: 0,
            wrote_snapshot: None,
        }
    }

    /// One line for people: how the configs of the run were read.
    pub fn describe(&self) -> String {
        match (&self.base_snapshot, &self.mode_reason) {
            (Some(base), _) => format!(
                "incremental: {} config(s) read from the server, {} carried over from {} \
                 (taken at {}; last full read at {}), {} change event(s) followed",
                self.reread_configs,
                self.reused_configs,
                base.path,
                base.taken_at,
                base.full_read_at,
                self.change_events.unwrap_or(0)
            ),
            (None, Some(reason)) => {
                format!("full: every config read from the server (incremental asked for: {reason})")
            }
            (None, None) => "full: every config read from the server".to_owned(),
        }
    }

    /// An incremental read.
    pub fn incremental(delta: &Delta) -> ReadMode {
        let m = &delta.base.manifest;
        ReadMode {
            mode: "incremental",
            mode_reason: None,
            base_snapshot: Some(BaseRef {
                path: delta.base_path.display().to_string(),
                taken_at: m.started_at.to_string(),
                full_read_at: m.oldest_read().to_string(),
            }),
            change_events: Some(delta.changed.events),
            reread_configs: delta.reread(),
            reused_configs: delta.reused(),
            wrote_snapshot: None,
        }
    }
}

/// Decides what a run that starts at `now` reads; every base skipped is named in `warnings`.
pub async fn decide(
    client: &Client,
    settings: &Settings,
    now: jiff::Timestamp,
    warnings: &mut Vec<String>,
) -> Plan {
    let target = base::Target {
        api_url: client.api_url(),
        org_id: client.org_id(),
    };
    let (base_path, base) = match base::find(
        &settings.reports,
        settings.base.as_deref(),
        target,
        warnings,
    ) {
        base::Lookup::Found { path, snapshot } => (path, snapshot),
        base::Lookup::Missing(reason) => return Plan::Full { reason },
    };
    let full = |reason: String| Plan::Full { reason };
    let m = &base.manifest;
    let oldest = m.oldest_read();
    if m.started_at > now || oldest > now {
        return full(format!(
            "the base snapshot {} is dated after this run's start ({}): the clock or the file \
             is wrong",
            base_path.display(),
            m.started_at
        ));
    }
    let age = now.duration_since(oldest);
    if age.unsigned_abs() >= settings.max_base_age {
        return full(format!(
            "the base's oldest configs were read at {oldest}, not less than --max-base-age ago \
             ({}): a periodic full read catches changes the audit log does not record",
            crate::policy::format_duration(settings.max_base_age.as_secs())
        ));
    }
    let configs: u64 = base.entries.iter().map(|e| e.configs.len() as u64).sum();
    let margin =
        jiff::SignedDuration::try_from(settings.margin).unwrap_or(jiff::SignedDuration::MAX);
    // A margin too large to subtract reaches back as far as time goes (the server then
    // refuses the range, and the run reads everything): never less margin than asked.
    let since = m
        .started_at
        .checked_sub(margin)
        .unwrap_or(jiff::Timestamp::MIN);
    let cap = settings.max_changes.events(configs);
    let methods: BTreeSet<AuthMethod> = base
        .entries
        .iter()
        .flat_map(|e| e.configs.iter().map(|(m, _)| m.clone()))
        .collect();
    let window = feed::Window {
        since,
        until: now,
        // The base run's own events may be written up to the margin late.
        reach: m.finished_at.checked_add(margin).unwrap_or(now).min(now),
    };
    match feed::read(client, &methods, window, cap).await {
        Ok(changes) => Plan::Incremental(Arc::new(Delta {
            base,
            base_path,
            changed: changes,
            reread: AtomicU64::new(0),
            reused: AtomicU64::new(0),
        })),
        Err(reason) => full(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps() {
        assert_eq!(ChangeCap::parse("20%"), Ok(ChangeCap::Percent(20.0)));
        assert_eq!(ChangeCap::parse("500"), Ok(ChangeCap::Events(500)));
        for bad in ["", "-1", "120%", "x%", "1.5"] {
            assert!(ChangeCap::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(ChangeCap::Percent(20.0).events(128_943), 25_788);
        assert_eq!(ChangeCap::Percent(20.0).events(4), 0);
        assert_eq!(ChangeCap::Events(7).events(1_000_000), 7);
    }
}
