//! Running the two processes of a scenario and measuring idguard: the simulator (`idguard sim`,
//! a separate process so its CPU is not idguard's) and `idguard audit` / `remediate`, whose
//! wall time, peak RSS (`VmHWM` of `/proc/<pid>/status`, sampled while it runs) and CPU time
//! (this process's `cutime + cstime` from `/proc/self/stat`, before and after waiting for it)
//! are taken without any `unsafe`.
//!
//! It does not judge anything; `judge.rs` does.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use idguard_sim::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET};
use serde_json::Value;

use crate::scenario::{self, Scenario};

/// How long the simulator may take to generate its org and start listening.
const SIM_START_TIMEOUT: Duration = Duration::from_secs(600);
/// How long one idguard run may take before the bench gives up on it.
const RUN_TIMEOUT: Duration = Duration::from_secs(1800);
/// How often `/proc/<pid>/status` is sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(5);

const PROXY_VARS: [&str; 6] = [
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
];

/// A running `idguard sim`; killed (and reaped) on drop.
pub struct SimProcess {
    child: Child,
    url: String,
}

impl SimProcess {
    /// Starts `idguard sim` for the scenario and waits until it serves.
    pub fn start(idguard: &Path, sc: &Scenario) -> Result<SimProcess> {
        let mut cmd = Command::new(idguard);
        // Audit logs off unless the scenario needs them: the others measure the audit's own
        // reads, as their targets were set for; usage evidence (reads per identity a plan would
        // narrow) is bounded by a test.
        let audit_logs = if sc.audit_logs { "enabled" } else { "disabled" };
        cmd.args(["sim", "--port", "0", "--audit-logs", audit_logs])
            .args(["--identities", &sc.identities.to_string()])
            .args(["--latency-ms", &sc.latency_ms.to_string()]);
        if let Some((reads, writes)) = sc.sim_limit {
            cmd.args(["--rate-limit-reads", &reads.to_string()])
                .args(["--rate-limit-writes", &writes.to_string()])
                .args(["--rate-limit-window", "1"]);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().context("cannot start `idguard sim`")?;
        let stderr = child
            .stderr
            .take()
            .ok_or_else(|| anyhow!("no stderr pipe from `idguard sim`"))?;
        let (tx, rx) = mpsc::channel::<String>();
        // Reads the banner, then keeps draining stderr so the simulator never blocks on it.
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if !sent && let Some(url) = banner_url(&line) {
                    let _ = tx.send(url);
                    sent = true;
                }
            }
        });
        let mut sim = SimProcess {
            child,
            url: String::new(),
        };
        match rx.recv_timeout(SIM_START_TIMEOUT) {
            Ok(url) => sim.url = url,
            Err(_) => bail!(
                "`idguard sim` did not print its address within {}s",
                SIM_START_TIMEOUT.as_secs()
            ),
        }
        Ok(sim)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `GET /__sim/stats`.
    pub fn stats(&self) -> Result<Value> {
        get_json(&format!("{}/__sim/stats", self.url))
    }

    /// The latency the simulator really has: the median round trip of `n` sequential requests
    /// to a route it does not know (answered 404 after the configured latency, which its timer
    /// rounds up to the next millisecond tick).
    pub fn probe_latency(&self, n: usize) -> Result<Duration> {
        let url = format!("{}/__bench/latency-probe", self.url);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let mut rtts = rt.block_on(async {
            let client = reqwest::Client::builder().no_proxy().build()?;
            let mut rtts = Vec::with_capacity(n);
            for _ in 0..n {
                let t = Instant::now();
                client.get(&url).send().await?.bytes().await?;
                rtts.push(t.elapsed());
            }
            anyhow::Ok(rtts)
        })?;
        rtts.sort_unstable();
        rtts.get(n / 2)
            .copied()
            .ok_or_else(|| anyhow!("no latency probe was made"))
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The URL in "simulated Infisical at http://127.0.0.1:PORT (org ...".
fn banner_url(line: &str) -> Option<String> {
    let rest = line.split("simulated Infisical at ").nth(1)?;
    let url = rest.split_whitespace().next()?;
    url.starts_with("http").then(|| url.to_owned())
}

fn get_json(url: &str) -> Result<Value> {
    with_client(Duration::from_secs(120), |client| async move {
        let resp = client.get(url).send().await?.error_for_status()?;
        Ok(resp.json::<Value>().await?)
    })
}

/// Runs `f` on a runtime of its own with an HTTP client for the loopback simulator (no proxy,
/// `timeout` per request).
pub fn with_client<T, Fut>(timeout: Duration, f: impl FnOnce(reqwest::Client) -> Fut) -> Result<T>
where
    Fut: std::future::Future<Output = Result<T>>,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(timeout)
            .build()?;
        f(client).await
    })
}

/// What was measured of one idguard run.
#[derive(Debug, Clone)]
pub struct Measured {
    /// The exit status.
    pub status: ExitStatus,
    /// From spawn to exit.
    pub wall: Duration,
    /// Peak resident set size in bytes (`VmHWM`), 0 if it could not be sampled.
    pub peak_rss: u64,
    /// User + system CPU time.
    pub cpu: Duration,
    /// The output folder (reports, plan, journal) and `stderr.log`.
    pub out: PathBuf,
}

/// Runs the scenario's idguard command against `sim`, writing into `out` (which must not
/// exist yet).
pub fn run_idguard(
    idguard: &Path,
    sc: &Scenario,
    sim: &SimProcess,
    out: &Path,
) -> Result<Measured> {
    let subcommand: &[&str] = match sc.command {
        scenario::Command::Audit | scenario::Command::Incremental => &["audit"],
        scenario::Command::Remediate => {
            &["remediate", "--apply", "--yes", "--max-changes", "1000000"]
        }
    };
    let mut cmd = idguard_command(idguard, sc, sim, subcommand);
    cmd.arg("--out").arg(out.join("reports"));
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    measure(cmd, &out.join("stderr.log"), out)
}

/// `idguard <subcommand>` against `sim` with the scenario's policy, concurrency and rates, the
/// demo credentials, no proxy, and `--quiet`; the caller adds where it writes.
pub fn idguard_command(
    idguard: &Path,
    sc: &Scenario,
    sim: &SimProcess,
    subcommand: &[&str],
) -> Command {
    let policy = workspace_root().join("policies/example.yaml");
    let mut cmd = Command::new(idguard);
    cmd.args(subcommand)
        .arg("--policy")
        .arg(&policy)
        .args(["--concurrency", &sc.concurrency.to_string()])
        .arg("--quiet");
    if let Some(r) = sc.read_rate {
        cmd.args(["--read-rate", &r.to_string()]);
    }
    if let Some(w) = sc.write_rate {
        cmd.args(["--write-rate", &w.to_string()]);
    }
    for var in PROXY_VARS {
        cmd.env_remove(var);
    }
    cmd.env("NO_PROXY", "127.0.0.1,localhost")
        .env("INFISICAL_DOMAIN", sim.url())
        .env("INFISICAL_UNIVERSAL_AUTH_CLIENT_ID", DEMO_CLIENT_ID)
        .env("INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET", DEMO_CLIENT_SECRET)
        .env_remove("INFISICAL_TOKEN")
        .env_remove("INFISICAL_API_URL")
        .env_remove("INFISICAL_ORG_ID");
    cmd
}

/// Runs `cmd` to its end with stderr into `log`, sampling its peak RSS; `out` is recorded as
/// where it wrote.
pub fn measure(mut cmd: Command, log: &Path, out: &Path) -> Result<Measured> {
    let log =
        std::fs::File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(log);

    // Nothing else is waited for between the two readings, so their difference is this child.
    let cpu_before = children_cpu()?;
    let started = Instant::now();
    let mut child = cmd.spawn().context("cannot start idguard")?;
    let pid = child.id();
    let mut peak_rss = 0u64;
    let status = loop {
        if let Some(rss) = vm_hwm(pid) {
            peak_rss = peak_rss.max(rss);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > RUN_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            bail!("idguard ran longer than {}s", RUN_TIMEOUT.as_secs());
        }
        std::thread::sleep(SAMPLE_EVERY);
    };
    let wall = started.elapsed();
    let cpu = children_cpu()?.saturating_sub(cpu_before);
    Ok(Measured {
        status,
        wall,
        peak_rss,
        cpu,
        out: out.to_path_buf(),
    })
}

/// `VmHWM` of a process in bytes.
fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// CPU time (user + system) of this process's waited-for children so far.
fn children_cpu() -> Result<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").context("cannot read /proc/self/stat")?;
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| anyhow!("unexpected /proc/self/stat"))?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Field 3 (state) is index 0: cutime is field 16, cstime field 17.
    let ticks = |i: usize| -> Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| anyhow!("unexpected /proc/self/stat"))
    };
    let total = ticks(13)? + ticks(14)?;
    let hz = clock_ticks();
    Ok(Duration::from_secs_f64(total as f64 / hz as f64))
}

/// `getconf CLK_TCK`, else the usual 100.
fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|hz| *hz > 0)
        .unwrap_or(100)
}

/// The `idguard` binary beside this one (rebuilt first by `cargo build -p idguard` in the
/// bench's own profile when the bench runs under cargo).
pub fn idguard_binary(explicit: Option<PathBuf>, build: bool) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p);
    }
    let me = std::env::current_exe().context("cannot locate the bench binary")?;
    let dir = me
        .parent()
        .ok_or_else(|| anyhow!("the bench binary has no folder"))?;
    if build && let Ok(cargo) = std::env::var("CARGO") {
        // target/<profile>/: `debug` is the dev profile; release and profiling go by name.
        let profile = match dir.file_name().and_then(|n| n.to_str()) {
            Some(name) if name != "debug" => vec!["--profile", name],
            _ => vec![],
        };
        let ok = Command::new(cargo)
            .args(["build", "-p", "idguard", "--bin", "idguard"])
            .args(profile)
            .current_dir(workspace_root())
            .status()
            .context("cannot run cargo build")?
            .success();
        if !ok {
            bail!("`cargo build -p idguard --bin idguard` failed");
        }
    }
    let path = dir.join("idguard");
    if !path.exists() {
        bail!(
            "{} not found: run `cargo build --release -p idguard --bin idguard` first, or pass \
             --idguard",
            path.display()
        );
    }
    Ok(path)
}

/// The workspace this bench was built in (two folders above its own `crates/idguard-bench`).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .nth(2)
        .unwrap_or(manifest)
        .to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banner_gives_the_url() {
        assert_eq!(
            banner_url(
                "simulated Infisical at http://127.0.0.1:4242 (org x, 5 identities); Ctrl-C"
            ),
            Some("http://127.0.0.1:4242".to_owned())
        );
        assert_eq!(banner_url("try:"), None);
    }

    #[test]
    fn own_children_cpu_is_readable() {
        assert!(children_cpu().is_ok());
        assert!(vm_hwm(std::process::id()).is_some_and(|b| b > 0));
    }
}
