//! The incremental scenario: in one working folder, `idguard audit --incremental` (no base
//! yet: a full read that writes one), then a share of the configs changed through the
//! simulator's HTTP API (`incremental/changes.rs`), then `idguard audit --incremental` again,
//! which should read only the changed configs. Each run's requests are counted by kind from the
//! simulator's stats taken before and after it, and its wall time at Infisical Cloud Pro's
//! limits is modelled (`cloud_pro.rs`).
//!
//! It runs and measures; the targets are judged in `judge.rs`.

mod changes;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use serde::Deserialize;
use serde_json::Value;

use crate::cloud_pro::{self, Modelled};
use crate::process::{self, SimProcess};
use crate::scenario::Scenario;

/// The share of the first run's configs changed between the runs, in percent.
pub const CHANGED_PERCENT: f64 = 1.0;

/// Requests by kind and by rate-limit class, from `/__sim/stats` (or the difference of two).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    /// Per kind (`RequestKind::as_str`).
    pub kinds: BTreeMap<String, u64>,
    pub reads: u64,
    pub writes: u64,
}

impl Counts {
    /// The counts of a `/__sim/stats` answer.
    pub fn of(stats: &Value) -> Result<Counts> {
        let kinds = stats["kinds"]
            .as_object()
            .ok_or_else(|| anyhow!("the simulator's stats have no `kinds`"))?
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
            .collect();
        let class = |c: &str| stats[c]["requests"].as_u64().unwrap_or(0);
        Ok(Counts {
            kinds,
            reads: class("read"),
            writes: class("write"),
        })
    }

    /// What was counted after `earlier`.
    pub fn since(&self, earlier: &Counts) -> Counts {
        let kinds = self
            .kinds
            .iter()
            .map(|(k, n)| {
                let before = earlier.kinds.get(k).copied().unwrap_or(0);
                (k.clone(), n.saturating_sub(before))
            })
            .collect();
        Counts {
            kinds,
            reads: self.reads.saturating_sub(earlier.reads),
            writes: self.writes.saturating_sub(earlier.writes),
        }
    }

    /// Requests of `kind`.
    pub fn kind(&self, kind: &str) -> u64 {
        self.kinds.get(kind).copied().unwrap_or(0)
    }

    /// Every audit-log read.
    pub fn audit_log(&self) -> u64 {
        self.kind("audit_log_by_type")
            + self.kind("audit_log_by_identity")
            + self.kind("audit_log_unfiltered")
    }
}

/// What report.json says of how a run read the org.
#[derive(Debug, Clone, Deserialize)]
struct ReportHead {
    run: RunHead,
    summary: SummaryHead,
}

#[derive(Debug, Clone, Deserialize)]
struct RunHead {
    mode: Option<String>,
    mode_reason: Option<String>,
    change_events: Option<u64>,
    #[serde(default)]
    reread_configs: u64,
    #[serde(default)]
    reused_configs: u64,
    wrote_snapshot: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct SummaryHead {
    identities: u64,
    auth_configs: u64,
}

/// One of the two runs.
#[derive(Debug, Clone)]
pub struct RunFigures {
    pub label: &'static str,
    /// `run.mode` (`full`, `incremental`, or `-` when missing).
    pub mode: String,
    pub mode_reason: Option<String>,
    pub identities: u64,
    pub configs: u64,
    pub change_events: Option<u64>,
    pub reread: u64,
    pub reused: u64,
    pub wrote_snapshot: bool,
    pub requests: Counts,
    pub modelled: Modelled,
    pub wall: Duration,
    pub cpu: Duration,
    pub peak_rss: u64,
    pub exit_code: Option<i32>,
    pub failed_identities: u64,
    /// The run folder.
    pub dir: PathBuf,
}

/// The scenario's outcome.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub first: RunFigures,
    /// Configs changed between the runs.
    pub changed: u64,
    /// Requests the changes took (a login and the PATCHes).
    pub change_requests: Counts,
    pub second: RunFigures,
    /// A third run after as many changes again, with `--no-usage-evidence`: what a nightly
    /// audit costs without the usage-evidence reads.
    pub third: RunFigures,
}

/// Runs the scenario against a fresh simulator, in `work` (created; must not exist).
pub fn run(idguard: &Path, sc: &Scenario, work: &Path) -> Result<Outcome> {
    std::fs::create_dir_all(work).with_context(|| format!("cannot create {}", work.display()))?;
    let sim = SimProcess::start(idguard, sc)?;
    let start = Counts::of(&sim.stats()?)?;
    let first = one_run(idguard, sc, &sim, work, "run 1", &start, &[])?;
    let after_first = Counts::of(&sim.stats()?)?;

    let count = ((first.configs as f64 * CHANGED_PERCENT / 100.0).round() as usize).max(1);
    let targets = changes::pick(&first.dir.join("report.csv"), count)?;
    changes::apply(sim.url(), &targets)?;
    let after_changes = Counts::of(&sim.stats()?)?;

    let second = one_run(idguard, sc, &sim, work, "run 2", &after_changes, &[])?;

    let targets_3 = changes::pick(&second.dir.join("report.csv"), count)?;
    changes::apply(sim.url(), &targets_3)?;
    let before_third = Counts::of(&sim.stats()?)?;
    let third = one_run(
        idguard,
        sc,
        &sim,
        work,
        "run 3 (--no-usage-evidence)",
        &before_third,
        &["--no-usage-evidence"],
    )?;
    let stats = sim.stats()?;
    drop(sim);
    std::fs::write(
        work.join("sim-stats.json"),
        serde_json::to_vec_pretty(&stats)?,
    )?;
    Ok(Outcome {
        first,
        changed: targets.len() as u64,
        change_requests: after_changes.since(&after_first),
        second,
        third,
    })
}

/// One `idguard audit --incremental <extra>` in `work`, its requests counted from `before`.
fn one_run(
    idguard: &Path,
    sc: &Scenario,
    sim: &SimProcess,
    work: &Path,
    label: &'static str,
    before: &Counts,
    extra: &[&str],
) -> Result<RunFigures> {
    let args: Vec<&str> = ["audit", "--incremental"]
        .iter()
        .chain(extra)
        .copied()
        .collect();
    let mut cmd = process::idguard_command(idguard, sc, sim, &args);
    cmd.current_dir(work);
    let log = work.join(format!(
        "{}.stderr.log",
        label.split(' ').take(2).collect::<String>()
    ));
    let m = process::measure(cmd, &log, work)?;
    let requests = Counts::of(&sim.stats()?)?.since(before);
    // `reports/latest` points at the folder of the run that just ended.
    let latest = work.join("reports/latest");
    let dir = std::fs::canonicalize(&latest).with_context(|| {
        format!(
            "{label} left no {} (exit {:?}; see {})",
            latest.display(),
            m.status.code(),
            log.display()
        )
    })?;
    let report = dir.join("report.json");
    let head: ReportHead = serde_json::from_reader(BufReader::new(
        File::open(&report).with_context(|| format!("no {}", report.display()))?,
    ))
    .with_context(|| format!("cannot read {}", report.display()))?;
    let failed_identities = crate::judge::failed_identities(&dir.join("report.csv"))?;
    Ok(RunFigures {
        label,
        mode: head.run.mode.unwrap_or_else(|| "-".into()),
        mode_reason: head.run.mode_reason,
        identities: head.summary.identities,
        configs: head.summary.auth_configs,
        change_events: head.run.change_events,
        reread: head.run.reread_configs,
        reused: head.run.reused_configs,
        wrote_snapshot: head.run.wrote_snapshot.is_some(),
        modelled: cloud_pro::modelled(requests.reads, requests.writes),
        requests,
        wall: m.wall,
        cpu: m.cpu,
        peak_rss: m.peak_rss,
        exit_code: m.status.code(),
        failed_identities,
        dir,
    })
}

/// The Markdown table of the two runs.
pub fn table(o: &Outcome) -> String {
    let head = [
        "run",
        "mode",
        "identities",
        "configs (re-read / reused)",
        "change events",
        "requests",
        "login",
        "identity lookups",
        "listing pages",
        "config GETs",
        "audit log: change feed",
        "audit log: by identity (evidence)",
        "audit log: unfiltered (probes)",
        "audit log in all",
        "reads",
        "writes",
        "modelled min at Cloud Pro",
        "wall s",
        "CPU s",
        "peak RSS MB",
        "failed ids",
    ];
    let mut rows = Vec::new();
    for r in [&o.first, &o.second, &o.third] {
        let q = &r.requests;
        let cells = [
            r.label.to_owned(),
            r.mode.clone(),
            r.identities.to_string(),
            format!("{} ({} / {})", r.configs, r.reread, r.reused),
            r.change_events.map_or("-".into(), |n| n.to_string()),
            q.kinds.values().sum::<u64>().to_string(),
            q.kind("login").to_string(),
            q.kind("identity_lookup").to_string(),
            q.kind("listing").to_string(),
            q.kind("config_read").to_string(),
            q.kind("audit_log_by_type").to_string(),
            q.kind("audit_log_by_identity").to_string(),
            q.kind("audit_log_unfiltered").to_string(),
            q.audit_log().to_string(),
            q.reads.to_string(),
            q.writes.to_string(),
            format!(
                "{:.1} ({})",
                r.modelled.minutes,
                r.modelled.binding.as_str()
            ),
            format!("{:.2}", r.wall.as_secs_f64()),
            format!("{:.2}", r.cpu.as_secs_f64()),
            format!("{:.1}", r.peak_rss as f64 / 1e6),
            r.failed_identities.to_string(),
        ];
        rows.push(cells.to_vec());
    }
    crate::markdown_table(&head, &rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stats(listing: u64, feed: u64, reads: u64) -> Value {
        json!({"kinds": {"listing": listing, "audit_log_by_type": feed, "login": 1},
               "read": {"requests": reads}, "write": {"requests": 1}})
    }

    #[test]
    fn counts_since_an_earlier_reading() {
        let a = Counts::of(&stats(10, 0, 100)).unwrap();
        let b = Counts::of(&stats(15, 2, 130)).unwrap();
        let d = b.since(&a);
        assert_eq!(d.kind("listing"), 5);
        assert_eq!(d.kind("audit_log_by_type"), 2);
        assert_eq!(d.kind("login"), 0);
        assert_eq!(d.audit_log(), 2);
        assert_eq!((d.reads, d.writes), (30, 0));
    }

    #[test]
    fn stats_without_kinds_are_refused() {
        assert!(Counts::of(&json!({"read": {"requests": 1}})).is_err());
    }
}
