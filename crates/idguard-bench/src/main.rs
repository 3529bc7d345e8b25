//! `idguard-bench`: the performance benchmark. For each scenario it starts the
//! simulator as a separate process (`idguard sim`), runs the real `idguard audit` (or
//! `remediate --apply`) release binary against it, and prints a Markdown table of what idguard
//! did against what the API's latency or rate limit allows, then each scenario's targets.
//!
//! Run it with `cargo run --release -p idguard-bench [-- --quick | --scenario NAME]`. It is a
//! crate of its own so that `cargo install` of idguard does not build it: it does not link
//! idguard's library (it measures the binary as a process) and takes only the demo credential
//! from `idguard-sim`. Scenarios live in `scenario.rs`, process handling and measuring in
//! `process.rs`, the row and the targets in `judge.rs` (all beside this file).

mod cloud_pro;
mod incremental;
mod judge;
mod process;
mod scenario;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Parser;

use judge::{Row, Verdict};
use process::SimProcess;
use scenario::Scenario;

/// Sequential requests whose median round trip is the latency a latency scenario's ideal
/// is also computed with.
const LATENCY_PROBES: usize = 21;

/// Benchmark idguard against the simulated Infisical (see BENCHMARKS.md).
#[derive(Debug, Parser)]
#[command(name = "idguard-bench")]
struct Args {
    /// Run small versions of every scenario (a smoke test of the bench, ~1 minute).
    #[arg(long)]
    quick: bool,
    /// Run only these scenarios (latency, rate, rate-overtold, large, remediate, incremental,
    /// naive).
    #[arg(long, value_delimiter = ',')]
    scenario: Vec<String>,
    /// The idguard binary (default: the one beside this binary, rebuilt first under cargo).
    #[arg(long)]
    idguard: Option<PathBuf>,
    /// Do not run `cargo build -p idguard --bin idguard` first.
    #[arg(long)]
    no_build: bool,
    /// Where runs write their reports (default: target/bench/<UTC timestamp>).
    #[arg(long)]
    out: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut stdout = std::io::stdout().lock();
    match run(&args, &mut stdout) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "idguard-bench: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs the chosen scenarios; true when every target was met.
fn run(args: &Args, out: &mut dyn Write) -> Result<bool> {
    let known = scenario::all();
    for name in &args.scenario {
        if !known.iter().any(|s| s.name == name) {
            let names: Vec<_> = known.iter().map(|s| s.name).collect();
            bail!("unknown scenario `{name}` (one of {})", names.join(", "));
        }
    }
    let chosen: Vec<Scenario> = known
        .into_iter()
        .filter(|s| args.scenario.is_empty() || args.scenario.iter().any(|n| n == s.name))
        .map(|s| if args.quick { s.quick() } else { s })
        .collect();
    let idguard = process::idguard_binary(args.idguard.clone(), !args.no_build)?;
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let base = args
        .out
        .clone()
        .unwrap_or_else(|| process::workspace_root().join("target/bench").join(stamp));

    let mut rows: Vec<(Scenario, Row, Vec<Verdict>)> = Vec::new();
    let mut incremental = None;
    let mut err = std::io::stderr();
    for sc in chosen {
        let quick = if args.quick {
            format!("; --quick: {} identities", sc.identities)
        } else {
            String::new()
        };
        let _ = writeln!(err, "idguard-bench: {} ({}{quick})", sc.name, sc.about);
        if sc.command == scenario::Command::Incremental {
            let outcome = incremental::run(&idguard, &sc, &base.join(sc.name))?;
            for r in [&outcome.first, &outcome.second, &outcome.third] {
                let _ = writeln!(
                    err,
                    "  {}: {}, {:.1}s, exit {:?}",
                    r.label,
                    r.mode,
                    r.wall.as_secs_f64(),
                    r.exit_code
                );
            }
            incremental = Some((sc, outcome));
            continue;
        }
        let sim = SimProcess::start(&idguard, &sc)?;
        let probed = match sc.bound {
            scenario::Bound::Latency => Some(sim.probe_latency(LATENCY_PROBES)?),
            _ => None,
        };
        let measured = process::run_idguard(&idguard, &sc, &sim, &base.join(sc.name))?;
        let stats = sim.stats()?;
        drop(sim);
        std::fs::write(
            measured.out.join("sim-stats.json"),
            serde_json::to_vec_pretty(&stats)?,
        )?;
        let row = judge::row(&sc, &measured, &stats, probed)?;
        let verdicts = judge::judge(&sc, &row);
        let _ = writeln!(
            err,
            "  {:.1}s, exit {:?}, {} calls",
            row.wall.as_secs_f64(),
            row.exit_code,
            row.calls
        );
        rows.push((sc, row, verdicts));
    }

    if !rows.is_empty() {
        writeln!(out, "{}", table(&rows))?;
    }
    let mut verdicts: Vec<(&str, Vec<Verdict>)> =
        rows.iter().map(|(sc, _, v)| (sc.name, v.clone())).collect();
    if let Some((sc, outcome)) = &incremental {
        writeln!(
            out,
            "{} ({}; {} configs changed between the runs, {} requests for the change):\n\n{}",
            sc.name,
            sc.about,
            outcome.changed,
            outcome.change_requests.kinds.values().sum::<u64>(),
            incremental::table(outcome)
        )?;
        verdicts.push((sc.name, judge::judge_incremental(outcome)));
    }
    let mut all_met = true;
    writeln!(out, "Targets:")?;
    for (name, vs) in &verdicts {
        for v in vs {
            all_met &= v.met;
            let mark = if v.met { "met   " } else { "MISSED" };
            writeln!(out, "  {mark} {name:<14} {}", v.target)?;
        }
    }
    let find = |n: &str| rows.iter().find(|(s, _, _)| s.name == n).map(|(_, r, _)| r);
    if let (Some(fast), Some(naive)) = (find("latency"), find("naive")) {
        writeln!(
            out,
            "Speed-up of --concurrency 64 over the sequential baseline: {:.1}x",
            naive.wall.as_secs_f64() / fast.wall.as_secs_f64().max(1e-9)
        )?;
    }
    writeln!(out, "Reports and simulator stats: {}", base.display())?;
    Ok(all_met)
}

/// The Markdown table of the rows.
fn table(rows: &[(Scenario, Row, Vec<Verdict>)]) -> String {
    let head = [
        "scenario",
        "identities",
        "configs",
        "API calls",
        "minimum",
        "wall s",
        "ideal s",
        "ratio",
        "probed latency ms",
        "ideal s at probed",
        "ratio at probed",
        "peak RSS MB",
        "CPU s",
        "CPU µs/config",
        "rate/limit",
        "max in 1 s",
        "429s",
        "failed ids",
    ];
    let mut body = Vec::new();
    for (_, r, _) in rows {
        let configs = match r.changes {
            Some(c) => format!("{} ({c} changed)", r.configs),
            None => r.configs.to_string(),
        };
        let cells = [
            r.name.to_owned(),
            r.identities.to_string(),
            configs,
            r.calls.to_string(),
            r.min_calls.to_string(),
            format!("{:.2}", r.wall.as_secs_f64()),
            r.ideal
                .map_or("-".into(), |i| format!("{:.2}", i.as_secs_f64())),
            r.ratio().map_or("-".into(), |x| format!("{x:.2}")),
            r.probed_latency
                .map_or("-".into(), |l| format!("{:.2}", l.as_secs_f64() * 1e3)),
            r.ideal_probed
                .map_or("-".into(), |i| format!("{:.2}", i.as_secs_f64())),
            r.ratio_probed().map_or("-".into(), |x| format!("{x:.2}")),
            format!("{:.1}", r.peak_rss as f64 / 1e6),
            format!("{:.2}", r.cpu.as_secs_f64()),
            r.cpu_per_config_us()
                .map_or("-".into(), |x| format!("{x:.1}")),
            r.rate.map_or("-".into(), |(a, l)| format!("{a:.1}/{l}")),
            r.max_per_second.map_or("-".into(), |m| m.to_string()),
            r.rate_limited.to_string(),
            r.failed_identities.to_string(),
        ];
        body.push(cells.to_vec());
    }
    markdown_table(&head, &body)
}

/// A Markdown table of `head` and `rows`.
pub fn markdown_table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = format!("| {} |\n", head.join(" | "));
    s.push_str(&format!("|{}\n", "---|".repeat(head.len())));
    for cells in rows {
        s.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    s
}
