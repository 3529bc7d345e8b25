//! Turning one scenario's measurements (idguard's reports, the simulator's stats, the process
//! figures) into a table row, and judging the row against the targets BENCHMARKS.md states.
//!
//! It reads files and JSON only; it starts nothing.

use std::collections::HashSet;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Deserialize;
use serde_json::Value;

use crate::incremental::Outcome;
use crate::process::Measured;
use crate::scenario::{Bound, Command, Scenario};

/// Listing page size of `POST /api/v2/identities/search` (its maximum).
pub const PAGE: u64 = 100;
/// Calls every run makes before listing: the login and the lookup of the logged-in identity.
pub const SESSION_CALLS: u64 = 2;
/// Calls one applied change needs: re-read, PATCH, read-back.
pub const CALLS_PER_CHANGE: u64 = 3;

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Row {
    pub name: &'static str,
    pub identities: u64,
    /// Configs evaluated (remediate: configs changed, in `changes`).
    pub configs: u64,
    /// Planned changes (remediate only).
    pub changes: Option<u64>,
    pub calls: u64,
    pub retries: u64,
    pub min_calls: u64,
    pub wall: Duration,
    /// The ideal at the configured latency or rate.
    pub ideal: Option<Duration>,
    /// Latency scenarios: the simulator's latency as probed before the run.
    pub probed_latency: Option<Duration>,
    /// Latency scenarios: the ideal at the probed latency.
    pub ideal_probed: Option<Duration>,
    pub peak_rss: u64,
    pub cpu: Duration,
    /// Achieved rate of the limited class (PATCH for remediation) and its limit, per second.
    pub rate: Option<(f64, u32)>,
    /// Most requests of the limited class in any 1-second window.
    pub max_per_second: Option<u64>,
    /// 429s idguard counted.
    pub rate_limited: u64,
    /// Distinct identities with an `error` result.
    pub failed_identities: u64,
    pub exit_code: Option<i32>,
}

impl Row {
    /// Wall time over ideal.
    pub fn ratio(&self) -> Option<f64> {
        ratio(self.wall, self.ideal)
    }

    /// Wall time over the ideal at the probed latency.
    pub fn ratio_probed(&self) -> Option<f64> {
        ratio(self.wall, self.ideal_probed)
    }

    /// idguard CPU per evaluated config, in microseconds.
    pub fn cpu_per_config_us(&self) -> Option<f64> {
        (self.configs > 0).then(|| self.cpu.as_secs_f64() * 1e6 / self.configs as f64)
    }
}

#[derive(Deserialize)]
struct ReportHead {
    run: RunHead,
    summary: SummaryHead,
}

#[derive(Deserialize)]
struct RunHead {
    api: ApiHead,
}

#[derive(Deserialize)]
struct ApiHead {
    requests: u64,
    retries: u64,
    rate_limited: u64,
}

#[derive(Deserialize)]
struct SummaryHead {
    identities: u64,
    auth_configs: u64,
}

#[derive(Deserialize)]
struct PlanHead {
    changes: Vec<serde::de::IgnoredAny>,
}

/// Builds the row of a finished scenario.
pub fn row(
    sc: &Scenario,
    m: &Measured,
    stats: &Value,
    probed_latency: Option<Duration>,
) -> Result<Row> {
    let reports = m.out.join("reports");
    let report_path = reports.join("report.json");
    let head: ReportHead = serde_json::from_reader(BufReader::new(
        File::open(&report_path).with_context(|| format!("no {}", report_path.display()))?,
    ))
    .with_context(|| format!("cannot read {}", report_path.display()))?;
    let failed_identities = failed_identities(&reports.join("report.csv"))?;
    let changes = match sc.command {
        Command::Audit | Command::Incremental => None,
        Command::Remediate => {
            let plan_path = reports.join("plan.json");
            let plan: PlanHead = serde_json::from_reader(BufReader::new(
                File::open(&plan_path).with_context(|| format!("no {}", plan_path.display()))?,
            ))?;
            Some(plan.changes.len() as u64)
        }
    };
    let identities = head.summary.identities;
    let configs = head.summary.auth_configs;
    // Usage evidence: the audit log is read for the identities whose plan would narrow trusted
    // IPs (two reads each plus one probe; bounded by a test, counted here from the simulator).
    let evidence_reads = stats["audit_log_reads"].as_u64().unwrap_or(0);
    let audit_min = SESSION_CALLS + identities.div_ceil(PAGE) + configs + evidence_reads;
    let min_calls = audit_min + changes.unwrap_or(0) * CALLS_PER_CHANGE;
    let latency = Duration::from_millis(sc.latency_ms);
    let reads = min_calls - changes.unwrap_or(0);
    let ideal = match sc.bound {
        Bound::Latency => Some(latency.mul_f64(min_calls as f64 / f64::from(sc.concurrency))),
        Bound::ReadRate(r) => Some(Duration::from_secs_f64(reads as f64 / f64::from(r))),
        // The apply's re-reads and read-backs overlap the paced PATCHes: only the audit's
        // reads come before the writes.
        Bound::WriteRate { reads: r, writes } => Some(Duration::from_secs_f64(
            audit_min as f64 / f64::from(r) + changes.unwrap_or(0) as f64 / f64::from(writes),
        )),
        Bound::Cpu | Bound::CloudPro => None,
    };
    let ideal_probed = match sc.bound {
        Bound::Latency => {
            probed_latency.map(|l| l.mul_f64(min_calls as f64 / f64::from(sc.concurrency)))
        }
        _ => None,
    };
    let (rate, max_per_second) = match sc.bound {
        Bound::ReadRate(limit) => (
            rate_of(&stats["read"]).map(|r| (r, limit)),
            stats["read"]["max_per_second"].as_u64(),
        ),
        Bound::WriteRate { writes, .. } => (
            rate_of(&stats["methods"]["PATCH"]).map(|r| (r, writes)),
            stats["write"]["max_per_second"].as_u64(),
        ),
        Bound::Latency | Bound::Cpu | Bound::CloudPro => (None, None),
    };
    Ok(Row {
        name: sc.name,
        identities,
        configs,
        changes,
        calls: head.run.api.requests,
        retries: head.run.api.retries,
        min_calls,
        wall: m.wall,
        ideal,
        probed_latency,
        ideal_probed,
        peak_rss: m.peak_rss,
        cpu: m.cpu,
        rate,
        max_per_second,
        rate_limited: head.run.api.rate_limited,
        failed_identities,
        exit_code: m.status.code(),
    })
}

fn ratio(wall: Duration, ideal: Option<Duration>) -> Option<f64> {
    ideal
        .filter(|i| !i.is_zero())
        .map(|i| wall.as_secs_f64() / i.as_secs_f64())
}

/// `(n - 1) / (last - first)` of a class or method in the simulator's stats.
fn rate_of(class: &Value) -> Option<f64> {
    let n = class["requests"].as_u64()?;
    let first = class["first_ms"].as_f64()?;
    let last = class["last_ms"].as_f64()?;
    (n >= 2 && last > first).then(|| (n - 1) as f64 / ((last - first) / 1000.0))
}

/// Distinct identity ids with an `error` result in report.csv.
pub fn failed_identities(csv_path: &Path) -> Result<u64> {
    let mut reader = csv::Reader::from_path(csv_path)
        .with_context(|| format!("cannot read {}", csv_path.display()))?;
    let headers = reader.headers()?.clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (Some(id), Some(status)) = (col("identity_id"), col("status")) else {
        anyhow::bail!("{} has no identity_id/status column", csv_path.display());
    };
    let mut failed = HashSet::new();
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record)? {
        if record.get(status) == Some("error")
            && let Some(i) = record.get(id)
        {
            failed.insert(i.to_owned());
        }
    }
    Ok(failed.len() as u64)
}

/// One target and whether the row meets it.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub target: String,
    pub met: bool,
}

/// The benchmark targets that apply to a row.
pub fn judge(sc: &Scenario, row: &Row) -> Vec<Verdict> {
    let mut v = Vec::new();
    let mut check = |target: String, met: bool| v.push(Verdict { target, met });
    check(
        format!(
            "calls {} <= minimum {} + retries {} + 429s {}",
            row.calls, row.min_calls, row.retries, row.rate_limited
        ),
        row.calls <= row.min_calls + row.retries + row.rate_limited,
    );
    match sc.name {
        "latency" => {
            if let (Some(r), Some(l)) = (row.ratio_probed(), row.probed_latency) {
                check(
                    format!(
                        "wall/ideal {r:.2} <= 1.15 (at the probed latency {:.1} ms)",
                        l.as_secs_f64() * 1e3
                    ),
                    r <= 1.15,
                );
            }
        }
        "rate" | "remediate" => {
            if let Some((achieved, limit)) = row.rate {
                check(
                    format!("rate {achieved:.1}/s >= 0.95 x {limit}"),
                    achieved >= 0.95 * f64::from(limit),
                );
                if let Some(max) = row.max_per_second {
                    check(
                        format!("max {max} in any 1 s <= {limit}"),
                        max <= u64::from(limit),
                    );
                }
            }
            check(
                format!("429s {} == 0", row.rate_limited),
                row.rate_limited == 0,
            );
        }
        "large" => {
            let mb = row.peak_rss as f64 / 1e6;
            check(format!("peak RSS {mb:.0} MB < 150 MB"), mb < 150.0);
            if let Some(us) = row.cpu_per_config_us() {
                check(format!("CPU {us:.1} us/config <= 80"), us <= 80.0);
            }
        }
        _ => {}
    }
    check(
        format!("failed identities {} == 0", row.failed_identities),
        row.failed_identities == 0,
    );
    v
}

/// The incremental scenario's targets: the first run reads everything and writes the base,
/// the second is incremental, GETs exactly the configs changed, and needs at most a fifth of
/// the first one's time at Cloud Pro's limits; the third (`--no-usage-evidence`) is
/// incremental and reads no usage evidence.
pub fn judge_incremental(o: &Outcome) -> Vec<Verdict> {
    let (first, second, third) = (&o.first, &o.second, &o.third);
    let mut v = Vec::new();
    let mut check = |target: String, met: bool| v.push(Verdict { target, met });
    check(
        format!(
            "run 1 mode `{}` == full and wrote its snapshot ({})",
            first.mode, first.wrote_snapshot
        ),
        first.mode == "full" && first.wrote_snapshot,
    );
    check(
        format!(
            "run 2 mode `{}` == incremental{}",
            second.mode,
            second
                .mode_reason
                .as_ref()
                .map_or(String::new(), |r| format!(" (reason: {r})"))
        ),
        second.mode == "incremental",
    );
    let gets = second.requests.kind("config_read");
    check(
        format!("run 2 config GETs {gets} == configs changed {}", o.changed),
        gets == o.changed,
    );
    let (m1, m2) = (first.modelled.minutes, second.modelled.minutes);
    check(
        format!("run 2 modelled {m2:.1} min <= run 1 {m1:.1} min / 5"),
        m2 * 5.0 <= m1,
    );
    let evidence = third.requests.kind("audit_log_by_identity");
    check(
        format!(
            "run 3 mode `{}` == incremental, evidence reads {evidence} == 0",
            third.mode
        ),
        third.mode == "incremental" && evidence == 0,
    );
    for r in [first, second, third] {
        check(
            format!("{} failed identities {} == 0", r.label, r.failed_identities),
            r.failed_identities == 0,
        );
    }
    v
}
