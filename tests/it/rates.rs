//! Client-side rates given as fractions: `--write-rate 1.6` paces the writes a remediation
//! sends at 1.6 a second (never more than 16 in any 10 s the simulator saw, and not much
//! fewer), and rates that are not a positive decimal are usage errors.

use std::path::Path;
use std::time::Duration;

use idguard_sim::{self as sim, AuthMethod, IdentitySpec, Sim, SimConfig, baseline_config};
use serde_json::json;

use crate::support::{idguard, policy_path, start_sim};

/// Runs idguard with the simulator's credentials, off the async runtime.
async fn run(url: &str, args: Vec<String>) -> std::process::Output {
    let mut cmd = idguard();
    cmd.args(&args)
        .env("INFISICAL_DOMAIN", url)
        .env("INFISICAL_UNIVERSAL_AUTH_CLIENT_ID", sim::DEMO_CLIENT_ID)
        .env(
            "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET",
            sim::DEMO_CLIENT_SECRET,
        )
        .stdin(std::process::Stdio::null());
    tokio::task::spawn_blocking(move || cmd.output().expect("binary runs"))
        .await
        .expect("join")
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// When the simulator saw each PATCH, in order.
fn patch_times(sim: &Sim) -> Vec<Duration> {
    sim.request_log()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .map(|r| r.at)
        .collect()
}

/// Adds `n` identities whose universal-auth config breaks the example policy's
/// `token-uses` rule (one planned change each).
fn add_noncompliant(sim: &Sim, n: usize) {
    for i in 0..n {
        let mut config = baseline_config(&AuthMethod::Universal);
        config["accessTokenNumUsesLimit"] = json!(0);
        sim.add_identity(IdentitySpec {
            name: format!("rate-{i:02}"),
            project_id: None,
            methods: vec![(AuthMethod::Universal, Some(config))],
        });
    }
}

/// `--write-rate 1.6` over 25 changes (about 15 s of writes): no 10-second window of the
/// simulator's log holds more than 16 PATCHes, and the writes still come at least at 80% of
/// 1.6 a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fractional_write_rate_paces_the_patches() {
    const CHANGES: usize = 25;
    let server = start_sim(SimConfig {
        identities: 1,
        ..SimConfig::default()
    })
    .await;
    let sim = server.handle();
    add_noncompliant(&sim, CHANGES);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let policy = policy_path("example.yaml").display().to_string();
    let args = [
        "remediate",
        "--policy",
        &policy,
        "--apply",
        "--yes",
        "--write-rate",
        "1.6",
        "--max-changes",
        "1000",
        "--out",
        &out.display().to_string(),
    ]
    .map(String::from)
    .to_vec();
    let o = run(&server.url(), args).await;
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "exit {:?}, stderr: {}",
        o.status.code(),
        stderr(&o)
    );
    let writes = patch_times(&sim);
    assert_eq!(writes.len(), CHANGES, "one PATCH per change");
    for (i, t0) in writes.iter().enumerate() {
        let in_window = writes[i..]
            .iter()
            .take_while(|t| **t < *t0 + Duration::from_secs(10))
            .count();
        assert!(
            in_window <= 16,
            "{in_window} PATCHes within 10 s of {t0:?}: {writes:?}"
        );
    }
    let (first, last) = (writes[0], writes[CHANGES - 1]);
    let span = (last - first).as_secs_f64();
    assert!(span > 12.0, "the writes took {span:.1} s");
    let achieved = (CHANGES - 1) as f64 / span;
    assert!(
        achieved >= 0.8 * 1.6,
        "{achieved:.2} writes/s is far below 1.6/s: {writes:?}"
    );
}

/// Runs `idguard audit` with `rate_arg` against a port nothing listens on, so it stops at
/// the first request (or at the argument check).
fn audit_with_rate(rate_arg: &str) -> std::process::Output {
    idguard()
        .arg("audit")
        .arg("--policy")
        .arg(policy_path("example.yaml"))
        .arg(rate_arg)
        .args(["--max-retries", "0", "--out"])
        .arg(Path::new("/nonexistent/never-created"))
        .env("INFISICAL_DOMAIN", "http://127.0.0.1:9")
        .env("INFISICAL_TOKEN", "unused")
        .output()
        .expect("binary runs")
}

/// `--read-rate` and `--write-rate` values that are not a positive finite decimal (zero,
/// negative, NaN, infinite, empty, garbage, an unknown unit) are usage errors (exit 64) naming
/// the option; fractions per second or per minute are accepted.
#[test]
fn bad_rates_are_usage_errors() {
    for option in ["--read-rate", "--write-rate"] {
        for bad in [
            "0", "0/min", "-1", "-0.5", "NaN", "inf", "", "fast", "1e3", "2/h", "1.2.3",
        ] {
            let o = audit_with_rate(&format!("{option}={bad}"));
            let err = stderr(&o);
            assert_eq!(o.status.code(), Some(64), "{option}={bad}: {err}");
            assert!(
                err.contains(option) && err.contains("invalid rate"),
                "{option}={bad}: {err}"
            );
        }
        for good in ["1.6", "0.5", "1.6/s", "30/min", "0.5/min"] {
            let o = audit_with_rate(&format!("{option}={good}"));
            let err = stderr(&o);
            assert_ne!(o.status.code(), Some(64), "{option}={good}: {err}");
            assert!(!err.contains("invalid rate"), "{option}={good}: {err}");
        }
    }
}
